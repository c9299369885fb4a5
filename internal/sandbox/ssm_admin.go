package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// registerSSMAdmin adds the SSM, patch catalogue and content endpoints to
// the admin API.
func (s *Server) registerSSMAdmin() {
	m := s.admin
	// POST /_sandbox/jeos/release {"release":"2023.7.20250101.0"}
	m.HandleFunc("POST /_sandbox/jeos/release", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Release string `json:"release"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Release == "" {
			adminError(w, http.StatusBadRequest, fmt.Errorf("jeos release: want {\"release\":\"2023.x.YYYYMMDD.0\"}"))
			return
		}
		imgs, err := s.PublishAmazonLinuxRelease(req.Release)
		if err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		out := map[string]string{}
		for k, img := range imgs {
			out[k] = img.ID
		}
		adminJSON(w, map[string]any{"release": req.Release, "images": out})
	})
	// POST /_sandbox/patches/release {"package":"openssl","severity":"Critical","classification":"Security","cves":["CVE-2026-0001"]}
	m.HandleFunc("POST /_sandbox/patches/release", func(w http.ResponseWriter, r *http.Request) {
		var req PatchRelease
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			adminError(w, http.StatusBadRequest, fmt.Errorf("patch release: %w", err))
			return
		}
		p, err := s.ReleasePatch(req)
		if err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		adminJSON(w, p)
	})
	// GET /_sandbox/patches lists the advisories released so far.
	m.HandleFunc("GET /_sandbox/patches", func(w http.ResponseWriter, r *http.Request) {
		var out []*Patch
		s.Do(func(wd *World) { out = wd.Catalogue.Released(s.clock.Now()) })
		adminJSON(w, out)
	})
	// GET /_sandbox/content/{id} is the content of an instance or image.
	m.HandleFunc("GET /_sandbox/content/{id}", func(w http.ResponseWriter, r *http.Request) {
		c, ok := s.ContentOf(r.PathValue("id"))
		if !ok {
			adminError(w, http.StatusNotFound, fmt.Errorf("no instance or image %s", r.PathValue("id")))
			return
		}
		adminJSON(w, c)
	})
	// PUT /_sandbox/ssm/settings {"require_instance_profile":true}
	m.HandleFunc("PUT /_sandbox/ssm/settings", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			RequireInstanceProfile bool `json:"require_instance_profile"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			adminError(w, http.StatusBadRequest, fmt.Errorf("ssm settings: %w", err))
			return
		}
		s.Do(func(wd *World) { wd.SSM.RequireInstanceProfile = req.RequireInstanceProfile })
		adminJSON(w, req)
	})
	// POST /_sandbox/ssm/contend {"account":"123456789012","region":"us-east-1","name":"/x/lock","count":2}
	// makes the next count PutParameter calls on the name fail with TooManyUpdates.
	m.HandleFunc("POST /_sandbox/ssm/contend", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Account string `json:"account"`
			Region  string `json:"region"`
			Name    string `json:"name"`
			Count   int    `json:"count"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Name == "" {
			adminError(w, http.StatusBadRequest, fmt.Errorf("ssm contend: want {\"name\":…,\"count\":N}"))
			return
		}
		s.ContendParameter(req.Account, req.Region, req.Name, req.Count)
		adminJSON(w, req)
	})
}

// PublishAmazonLinuxRelease publishes a new Amazon Linux 2023 release in
// every region (the EC2 model's images) and moves the public
// /aws/service/ami-amazon-linux-latest/ parameters to it (a new version
// each). The result is keyed "region/arch".
func (s *Server) PublishAmazonLinuxRelease(release string) (map[string]*Image, error) {
	var out map[string]*Image
	var err error
	s.Do(func(w *World) {
		now := s.clock.Now()
		if ReleaseDate(release).IsZero() {
			err = fmt.Errorf("jeos release: %q is not an AL2023 release such as 2023.7.20250101.0", release)
			return
		}
		out = w.PublishAmazonLinuxRelease(release, now)
		w.syncPublicParameters(now)
	})
	return out, err
}

// ReleasePatch publishes an advisory now (see Catalogue.ReleasePatch).
func (s *Server) ReleasePatch(r PatchRelease) (*Patch, error) {
	var p *Patch
	var err error
	s.Do(func(w *World) { p, err = w.Catalogue.ReleasePatch(r, s.clock.Now()) })
	return p, err
}

// ContentOf returns a copy of an instance's or image's content.
func (s *Server) ContentOf(id string) (Content, bool) {
	var c Content
	ok := false
	s.Do(func(w *World) {
		if inst := w.EC2.Instances[id]; inst != nil {
			c, ok = inst.Content.Clone(), true
		} else if img := w.EC2.Images[id]; img != nil {
			c, ok = img.Content.Clone(), true
		}
	})
	return c, ok
}

// ContendParameter makes the next count PutParameter calls on a parameter
// fail with TooManyUpdates (empty account/region: the defaults).
func (s *Server) ContendParameter(account, region, name string, count int) {
	if account == "" {
		account = DefaultAccount
	}
	if region == "" {
		region = DefaultRegion
	}
	s.Do(func(w *World) {
		if w.SSM.Contended == nil {
			w.SSM.Contended = map[string]int{}
		}
		w.SSM.Contended[account+"/"+region+"/"+name] = count
	})
}
